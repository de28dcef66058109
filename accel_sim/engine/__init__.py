"""The accelerator engine: demand (costing), placement, and the L0/L1/L2 timing models."""
