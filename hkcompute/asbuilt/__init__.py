"""As built: the cabling the devices report, compared with the plan.

* ``lldp`` reads ``lldpcli -f json show neighbors`` (every shape lldpd prints);
* ``ibnetdiscover`` reads the topology text of ``ibnetdiscover`` (and the HCA port GUIDs);
* ``names`` maps what the devices call themselves and their ports to the inventory's names
  (the one place that knows how a plan port is named by LLDP and by ibnetdiscover);
* ``compare`` sets the sightings against the plan's links: ok, missing, miswired, swapped,
  unexpected, not collected (pure: no I/O);
* ``labview`` undoes what the container lab does differently from a floor (its leaf segments);
* ``guids`` writes the GUID map; ``collect`` runs lldpcli over SSH; ``output`` prints.
"""
