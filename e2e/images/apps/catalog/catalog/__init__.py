"""The product catalogue API (Flask): gunicorn serves `catalog.app:create_app()`."""
