"""Published contracts: the event envelope, event models, intake requests and topic names."""
