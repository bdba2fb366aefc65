"""Judgement: run a program on the spec and on models, diff the outcomes, name the divergence."""
