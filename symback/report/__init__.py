"""Documents: a report's sections as data, the Jinja environment, exporters, figures, PDF, worksheets."""
