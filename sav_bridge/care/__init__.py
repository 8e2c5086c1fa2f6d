"""Social care automation: acknowledgements, office hours, mood, routing, history and response-time watch."""
