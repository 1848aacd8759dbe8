"""Side-by-side benchmarks of simple_flask against the servers a user would otherwise pick."""
