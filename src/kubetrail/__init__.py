"""kubetrail: what happened in this Kubernetes cluster, and why."""

__version__ = "0.1.0"
