"""Deploy: Ansible inventory export, the ansible-runner adapter, journal, lock and resume.

(Not named ``ansible``: that would shadow the library.)"""
