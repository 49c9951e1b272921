"""Builders of the Kubernetes objects the demo cluster holds.

Each builder returns one object as ``kubectl get -o json`` would show it right
after its creation (defaulted spec, status, ``managedFields`` of the writer),
with its identity drawn from the simulation (``sim.uid``, ``sim.now``); the
controllers then change it. One module per group of kinds: :mod:`.meta` (metadata,
references, last-applied manifests), :mod:`.core` (Namespace, ConfigMap, Secret,
Service, PersistentVolumeClaim), :mod:`.nodes`, :mod:`.events` (Events and their
recorder), :mod:`.apps` (an application and its pod template), :mod:`.workloads`
(Deployment, ReplicaSet, StatefulSet), :mod:`.pods`, :mod:`.jobs` (CronJob, Job).
"""
