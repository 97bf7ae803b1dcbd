"""Kubernetes injection reproduced on one machine, without a cluster.

memlab reads real Pod / ConfigMap / Secret manifests and does what the API server and
kubelet do with them (docs/article.md lists what memlab reproduces, with the Kubernetes
sources: pkg/kubelet/kubelet_pods.go, pkg/volume/util/atomic_writer.go):

  manifests.py     multi-document YAML -> typed objects; structural errors with line numbers
  validation.py    the API server's rules, messages in Kubernetes' own field.Error form
  envvars.py       kubelet's makeEnvironmentVariables and the $(VAR) expansion
  atomic_writer.py kubelet's AtomicWriter: ..<timestamp> dir, ..data symlink, atomic swap
  volumes.py       configMap/secret volume payloads (items, modes, optional, FailedMount)
  pod.py           run a pod's container here (execve with the computed env), apply updates

Nothing here imports textual; yaml is imported lazily by manifests.py.
"""
