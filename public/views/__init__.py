"""The public pages, by job: home and search, item pages, outcome pages, lists, properties, plots."""
