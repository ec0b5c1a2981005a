DROP TABLE package_keys;
