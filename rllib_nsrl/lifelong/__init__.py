"""Lifelong learning of logic rules (L2ILP): supervised-ILP task sequences on a shared NLM knowledge base."""
