"""Pure functions on frames: coordinates, assignment, aggregation. No I/O, no streamlit."""
