# Documentation and example configurations. Every machine gets the whole
# documentation with the zdb component (the qsfs package depends on it).
set(QS_DOCS README.md docs/architecture.md docs/benchmarks.md docs/operations.md docs/qsfs-format.md
    docs/migrating-from-0-stor.md
    docs/zdb-format.md docs/zdb-protocol.md docs/zstor-journal.md docs/zstor-metadata.md docs/zstor-staging.md)
list(TRANSFORM QS_DOCS PREPEND ${PROJECT_SOURCE_DIR}/)
install(FILES ${QS_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT zdb)

# The example configurations, as documentation: none is usable as it is
# (addresses, passwords and keys are the operator's).
set(QS_ZDB_EXAMPLES config/zdb.toml config/prometheus.yml)
set(QS_QSFS_EXAMPLES config/zdb-staging.toml config/zstor.toml config/zstor-local.toml config/qsfs.toml
    systemd/mnt-data.mount)
list(TRANSFORM QS_ZDB_EXAMPLES PREPEND ${PROJECT_SOURCE_DIR}/)
list(TRANSFORM QS_QSFS_EXAMPLES PREPEND ${PROJECT_SOURCE_DIR}/)
install(FILES ${QS_ZDB_EXAMPLES} DESTINATION ${QSFS_EXAMPLES_DIR} COMPONENT zdb)
install(FILES ${QS_QSFS_EXAMPLES} DESTINATION ${QSFS_EXAMPLES_DIR} COMPONENT qsfs)
