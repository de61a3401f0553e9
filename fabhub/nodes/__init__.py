"""The hub's side of the nodes: enrolment, heartbeats, job leases and reports, commands."""
