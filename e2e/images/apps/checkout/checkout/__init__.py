"""Checkout (Django), released blue-green: gunicorn serves `checkout.wsgi:application`."""
