DROP INDEX owner_links_by_request;
