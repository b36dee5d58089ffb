-- `execution_list(workspace_id = '…')`: the workspace's executions, one row each, exactly as
-- the list, counts and metrics read them: execution_rows.sql over every index row of the
-- workspace (the rows marker), less the rows the list skips. A parameterized view, so a
-- dashboard (Grafana's ClickHouse data source) reads the list's very rows instead of a copy of
-- its joins. A plain view: nothing is stored, nothing is added to ingest. A read costs what a
-- count of the workspace costs: a condition on `started_at` reaches the index's primary key
-- (EXPLAIN indexes=1 shows it), and the tables joined to it are read for the workspace.
CREATE OR REPLACE VIEW execution_list AS
SELECT * EXCEPT (listed)
FROM (@ROWS@)
WHERE listed
