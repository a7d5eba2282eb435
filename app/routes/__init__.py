"""The web surface, one router per user (issue 30): who calls a route decides where it is.

* ``counter_api``: a counter's uploads, rescans, receipts and own batches (``/api/batches``...).
* ``agency_api``: dossiers retrieved (search, PDF, original, fields, handoff, status back).
* ``operator_api``: the operators' JSON desk (summary, review queue, corrections, retries).
* ``machine``: what machines call without a person's token (health, metrics, signed links).
* ``sign_in``: the sign-in pages, open to anyone.
* ``counter_pages``, ``dossier_pages``, ``agency_pages``, ``operator_pages``,
  ``review_desk``: the server-rendered pages, each router for the people it names.

Each protected router carries its callers' check as its own dependency, so a route added to
it is refused to a stranger without a line of its own. Shared state (settings, runner,
metrics, templates, words) reaches a route through ``state.Service``, never a closure.
``app.service.create_app`` only assembles them. Nothing is imported here: ``app.auth``
reads ``app.routes.state`` and must not pull the routers in with it.
"""
