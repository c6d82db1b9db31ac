"""oms: the operator command line (keys, redrive), run from a workstation or CI; never deployed."""
