"""What an evaluation reads: query sets, benchmark annotations, templates, the protocol, and matching to a collection."""
