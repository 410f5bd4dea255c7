-- Units a closed hold could not give back.
--
-- After an oversell (the naive strategy's lost updates) more units are held than exist:
-- when those holds expire, giving every unit back would push stock_available above
-- stock_total, which the CHECK refuses. The hold still closes, exactly once; the units
-- that never existed are recorded here instead of in stock_available, so the audit's
-- equation keeps the oversell visible:
--
--     stock_available + Σ active + Σ paid + Σ short = stock_total + oversold
--
-- Deleting the holds (a reset) clears it with them.
ALTER TABLE holds ADD COLUMN short INTEGER NOT NULL DEFAULT 0 CHECK (short >= 0 AND short <= qty);

-- Damaged holds are few: the audit and the dashboard sum them through this index.
CREATE INDEX holds_short_by_product ON holds (product_id) WHERE short > 0;
