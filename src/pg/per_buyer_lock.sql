-- flashsale schema step 4 on PostgreSQL: the per-buyer limit's trigger locks the
-- product's row FOR NO KEY UPDATE instead of FOR UPDATE.
--
-- Why: FOR UPDATE also conflicts with the KEY SHARE lock that every order's (and hold's)
-- foreign key check takes on the product's row. A checkout holding that KEY SHARE while
-- it followed the row's update chain to a reserving transaction, which in turn waited in
-- this trigger for the checkout, was a deadlock (seen with `naive`'s autocommit insert).
-- NO KEY UPDATE still serializes every insert for the product with every other insert and
-- with every stock update (they take the same lock), which is all the limit needs.
CREATE OR REPLACE FUNCTION holds_per_buyer_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    most BIGINT;
    live BIGINT;
BEGIN
    SELECT max_per_buyer INTO most FROM products WHERE id = NEW.product_id FOR NO KEY UPDATE;
    SELECT coalesce(sum(qty), 0) INTO live FROM holds
     WHERE product_id = NEW.product_id AND buyer = NEW.buyer AND status IN ('active', 'paid');
    IF live + NEW.qty > most THEN
        RAISE EXCEPTION 'per_buyer_limit: a buyer holds at most max_per_buyer units'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
