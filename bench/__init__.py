"""Benchmarks for logsense: parsing accuracy on Loghub, throughput, memory."""
