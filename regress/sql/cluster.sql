-- The nodes registered by xlctl init, as the guide's pgxc_node check shows them.
SELECT node_name, node_type, nodeis_primary FROM pgxc_node ORDER BY node_name;
