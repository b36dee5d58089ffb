"""What follows the log: the projection runner, the ClickHouse writers and the read queries."""
