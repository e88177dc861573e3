"""The kernel harness: enforce Landlock rulesets for real and capture what the audit
subsystem logs (fixtures, differential tests)."""
