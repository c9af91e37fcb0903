"""Server-rendered pages for people (Jinja2 templates in ``templates/web/``): log in, the
inbox, one delivery, the account settings, the office workspace (its dispatches, one dispatch's
timeline, the single-dispatch form). Pages hold no rules: they call the same domain
functions as the JSON API and show their answers.

May import: ``mailbox.api`` (security, problems, schemas, downloads) and the domain rooms.
"""
