-- The releases of some deployments, each deployment's in release order (0012's `releases`).
SELECT deployment_id, release_id, entrypoint, tags, timeout_seconds, description, released_at
FROM releases FINAL
WHERE deployment_id IN {deployment_ids:Array(UUID)}
ORDER BY deployment_id, position
