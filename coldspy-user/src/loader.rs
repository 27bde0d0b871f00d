//! Loads and attaches coldspy's eBPF programs.
