"""The web UI: read-only pages over the same Store as the REST API, served by its app.

``/ui/`` (the incident at a glance: the checks' findings by severity, recent changes,
changes vs Warning Events over time), ``/ui/timeline`` (a swimlane per object, grouped by
namespace and owner, its versions and Warning Events counted per time bucket by the
store), ``/ui/objects/{namespace}/{resourceType}/{name}`` (every version with what
changed, who changed it, and the Events about it) and ``/ui/search`` (full text and
filters, paged with the API's cursors). Server-rendered (jinja2 templates in the
package), no build step and no CDN; the state is in the URL.

- :mod:`~kubetrail.ui.app`: :func:`install` mounts it on the API's app;
- :mod:`~kubetrail.ui.routes`: the thin routes; :mod:`~kubetrail.ui.render`: templates;
- :mod:`~kubetrail.ui.overview`, :mod:`~kubetrail.ui.histogram`,
  :mod:`~kubetrail.ui.timeline`, :mod:`~kubetrail.ui.objects`,
  :mod:`~kubetrail.ui.search`: each page's content, pure over the Store protocol, the
  queries and the diagnostics; :mod:`~kubetrail.ui.marks`: the timeline's marks as the
  JSON its script (``static/timeline.js``) draws;
- :mod:`~kubetrail.ui.params` (the time range in the URL, page errors),
  :mod:`~kubetrail.ui.links` (object URLs), :mod:`~kubetrail.ui.security` (the token,
  the login and logout cookie, the Content-Security-Policy).
"""

from kubetrail.ui.app import install
from kubetrail.ui.links import UI_PATH

__all__ = ["UI_PATH", "install"]
