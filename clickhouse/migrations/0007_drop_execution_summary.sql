-- `executions` (0006) replaced the Prime summary's first table; its view would otherwise keep
-- folding every batch a second time. A migration of its own, after 0006 is recorded, so that
-- 0006 cut off midway finds the old table still there to copy from when it runs again.
DROP VIEW IF EXISTS execution_summary_mv;
DROP TABLE IF EXISTS execution_summary;
