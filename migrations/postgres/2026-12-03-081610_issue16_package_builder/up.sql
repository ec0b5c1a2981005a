-- Which instance builds a package (host-pid-…), so a build whose process is gone is found at once.
ALTER TABLE packages ADD COLUMN builder TEXT;
