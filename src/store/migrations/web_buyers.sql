-- The console counts the buyers who came over HTTP (`flashsale serve` names them `web-…`)
-- apart from the bots. Partial indexes hold only those rows, so the count costs the
-- audience's size, not the swarm's, and a bot's insert pays one failed GLOB.
CREATE INDEX holds_by_web_buyer ON holds (status) WHERE buyer GLOB 'web-*';
CREATE INDEX orders_by_web_buyer ON orders (buyer) WHERE buyer GLOB 'web-*';
