"""Clients of the Libris XL services: records (:mod:`.read`), search (:mod:`.find`),
OAI-PMH (:mod:`.oaipmh`), the change feed (:mod:`.changes`), writes (:mod:`.write`),
MARC (:mod:`.marc`) and xsearch (:mod:`.xsearch`). Each yields :class:`~linkeddata.records.Record`\\ s."""
