"""The runtime: turns an AppModel into tables, records, policies, flows and jobs."""
