-- A reservation as one call (issue #11's speed), for the two strategies that take a hold
-- under the product row's lock in one go:
--   `immediate` (p_lock_first): `SELECT … FOR UPDATE` locks the row, then the stock is
--     read, checked and taken;
--   `atomic`: one conditional `UPDATE … WHERE stock_available >= qty RETURNING …` takes
--     the units or changes nothing (its row lock is the update's own).
-- Then the hold is inserted, all inside the server. Called in autocommit, the call is the
-- whole transaction, so the lock every other buyer of the product waits for is held from
-- the locking statement to the end of the COMMIT with no round trip to the client in
-- between: on a loaded machine each such round trip was a chance for the lock holder's
-- client to lose the CPU while every other buyer waited.
--
-- The buyer's live units are summed first, before the lock (the per-buyer trigger sums
-- them again under it, which is what holds against a racing hold of the same buyer):
-- over the limit, nothing is locked and `available` comes back NULL. Short of stock,
-- nothing is written and `due` says whether the product has holds past their deadline
-- whose units could come back; the client then expires them in a transaction of its own
-- (the same Rust code as every other expiry), rather than this function repeating it.
CREATE FUNCTION flashsale_hold(
    p_id TEXT, p_product BIGINT, p_buyer TEXT, p_qty BIGINT, p_created BIGINT, p_expires BIGINT,
    p_lock_first BOOLEAN,
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
    IF p_lock_first THEN
        SELECT stock_available INTO available FROM products WHERE id = p_product FOR UPDATE;
        IF available >= p_qty THEN
            UPDATE products SET stock_available = stock_available - p_qty, version = version + 1
             WHERE id = p_product;
        END IF;
    ELSE
        UPDATE products SET stock_available = stock_available - p_qty, version = version + 1
         WHERE id = p_product AND stock_available >= p_qty
        RETURNING stock_available + p_qty INTO available;
        IF NOT FOUND THEN
            SELECT stock_available INTO available FROM products WHERE id = p_product;
        END IF;
    END IF;
    IF available < p_qty THEN
        due := EXISTS (SELECT 1 FROM holds
                        WHERE status = 'active' AND product_id = p_product
                          AND expires_at <= p_created);
        RETURN;
    END IF;
    INSERT INTO holds (id, product_id, buyer, qty, status, created_at, expires_at)
    VALUES (p_id, p_product, p_buyer, p_qty, 'active', p_created, p_expires);
END
$$;
