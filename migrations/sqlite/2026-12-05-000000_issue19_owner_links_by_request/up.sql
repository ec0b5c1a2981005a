-- The view asks whether a request has owner links (and lists them) by request id.
CREATE INDEX owner_links_by_request ON owner_links (request_id);
