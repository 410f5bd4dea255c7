-- `immediate`'s reservation as one call (issue #11's speed): the product row is locked
-- with `SELECT … FOR UPDATE`, its stock read, checked and taken and the hold inserted,
-- all inside the server. Called in autocommit, the call is the whole transaction, so the
-- lock every other buyer of the product waits for is held from the SELECT to the end of
-- the COMMIT with no round trip to the client in between: on a loaded machine each such
-- round trip was a chance for the lock holder's client to lose the CPU.
--
-- The buyer's live units are summed first, before the lock (the per-buyer trigger sums
-- them again under it, which is what holds against a racing hold of the same buyer):
-- over the limit, nothing is locked and `available` comes back NULL. Short of stock,
-- nothing is written and `due` says whether the product has holds past their deadline
-- whose units could come back; the client then expires them in a transaction of its own
-- (the same Rust code as every other expiry), rather than this function repeating it.
CREATE FUNCTION flashsale_hold_locked(
    p_id TEXT, p_product BIGINT, p_buyer TEXT, p_qty BIGINT, p_created BIGINT, p_expires BIGINT,
    OUT live BIGINT, OUT available BIGINT, OUT due BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    most BIGINT;
BEGIN
    SELECT max_per_buyer INTO STRICT most FROM products WHERE id = p_product;
    SELECT coalesce(sum(qty), 0) INTO live FROM holds
     WHERE product_id = p_product AND buyer = p_buyer AND status IN ('active', 'paid');
    IF live + p_qty > most THEN
        RETURN;
    END IF;
    SELECT stock_available INTO available FROM products WHERE id = p_product FOR UPDATE;
    IF available < p_qty THEN
        due := EXISTS (SELECT 1 FROM holds
                        WHERE status = 'active' AND product_id = p_product
                          AND expires_at <= p_created);
        RETURN;
    END IF;
    UPDATE products SET stock_available = stock_available - p_qty, version = version + 1
     WHERE id = p_product;
    INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
    VALUES (p_id, p_product, p_buyer, p_qty, 'active', p_created, p_expires);
END
$$;
