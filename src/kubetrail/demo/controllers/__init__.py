"""The controllers that keep the demo cluster consistent.

Each is a set of processes or reactions over :class:`~kubetrail.demo.simulation.Sim`,
doing what its Kubernetes namesake does, just enough for the incident: the
deployment and replica set controllers roll out and replace pods, the scheduler
binds them (or cannot), the kubelet runs, crash-loops and stops them, the job and
CronJob controllers run the hourly report, the node lifecycle controller evicts
pods from a lost node, the PersistentVolume controller fails to provision.
:mod:`.status` holds the status writes they share.
"""
