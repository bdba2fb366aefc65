"""Reports: tables (plain, markdown) and JSON documents for each command's results."""
