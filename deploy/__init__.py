"""Deployment files (Kubernetes, Compose, nginx) and the rehearsal of the topology on one machine.

A package only so that `python -m deploy.rehearse` runs from the checkout's
root; nothing here is installed with simple_flask or copied into the image.
"""
