"""Speed benchmarks of jaxdl against the ways people do the same work today."""
