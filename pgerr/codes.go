// Code generated from PostgreSQL 15's errcodes.txt; DO NOT EDIT.
// TestCodesMatchPostgreSQL checks it against the errcodes.txt of the PostgreSQL installed.

package pgerr

// SQLSTATE codes, named as errcodes.txt names their conditions. A name
// errcodes.txt gives two codes is suffixed with the class of the second
// (its Warning, or ExternalRoutine / ExternalRoutineInvocation one).
const (
	// Class 00 - Successful Completion
	SuccessfulCompletion = "00000" // successful_completion

	// Class 01 - Warning
	Warning                          = "01000" // warning
	DynamicResultSetsReturned        = "0100C" // dynamic_result_sets_returned
	ImplicitZeroBitPadding           = "01008" // implicit_zero_bit_padding
	NullValueEliminatedInSetFunction = "01003" // null_value_eliminated_in_set_function
	PrivilegeNotGranted              = "01007" // privilege_not_granted
	PrivilegeNotRevoked              = "01006" // privilege_not_revoked
	StringDataRightTruncationWarning = "01004" // string_data_right_truncation
	DeprecatedFeature                = "01P01" // deprecated_feature

	// Class 02 - No Data (this is also a warning class per the SQL standard)
	NoData                                = "02000" // no_data
	NoAdditionalDynamicResultSetsReturned = "02001" // no_additional_dynamic_result_sets_returned

	// Class 03 - SQL Statement Not Yet Complete
	SqlStatementNotYetComplete = "03000" // sql_statement_not_yet_complete

	// Class 08 - Connection Exception
	ConnectionException                           = "08000" // connection_exception
	ConnectionDoesNotExist                        = "08003" // connection_does_not_exist
	ConnectionFailure                             = "08006" // connection_failure
	SqlclientUnableToEstablishSqlconnection       = "08001" // sqlclient_unable_to_establish_sqlconnection
	SqlserverRejectedEstablishmentOfSqlconnection = "08004" // sqlserver_rejected_establishment_of_sqlconnection
	TransactionResolutionUnknown                  = "08007" // transaction_resolution_unknown
	ProtocolViolation                             = "08P01" // protocol_violation

	// Class 09 - Triggered Action Exception
	TriggeredActionException = "09000" // triggered_action_exception

	// Class 0A - Feature Not Supported
	FeatureNotSupported = "0A000" // feature_not_supported

	// Class 0B - Invalid Transaction Initiation
	InvalidTransactionInitiation = "0B000" // invalid_transaction_initiation

	// Class 0F - Locator Exception
	LocatorException            = "0F000" // locator_exception
	InvalidLocatorSpecification = "0F001" // invalid_locator_specification

	// Class 0L - Invalid Grantor
	InvalidGrantor        = "0L000" // invalid_grantor
	InvalidGrantOperation = "0LP01" // invalid_grant_operation

	// Class 0P - Invalid Role Specification
	InvalidRoleSpecification = "0P000" // invalid_role_specification

	// Class 0Z - Diagnostics Exception
	DiagnosticsException                           = "0Z000" // diagnostics_exception
	StackedDiagnosticsAccessedWithoutActiveHandler = "0Z002" // stacked_diagnostics_accessed_without_active_handler

	// Class 20 - Case Not Found
	CaseNotFound = "20000" // case_not_found

	// Class 21 - Cardinality Violation
	CardinalityViolation = "21000" // cardinality_violation

	// Class 22 - Data Exception
	DataException                             = "22000" // data_exception
	ArraySubscriptError                       = "2202E" // array_subscript_error
	CharacterNotInRepertoire                  = "22021" // character_not_in_repertoire
	DatetimeFieldOverflow                     = "22008" // datetime_field_overflow
	DivisionByZero                            = "22012" // division_by_zero
	ErrorInAssignment                         = "22005" // error_in_assignment
	EscapeCharacterConflict                   = "2200B" // escape_character_conflict
	IndicatorOverflow                         = "22022" // indicator_overflow
	IntervalFieldOverflow                     = "22015" // interval_field_overflow
	InvalidArgumentForLogarithm               = "2201E" // invalid_argument_for_logarithm
	InvalidArgumentForNtileFunction           = "22014" // invalid_argument_for_ntile_function
	InvalidArgumentForNthValueFunction        = "22016" // invalid_argument_for_nth_value_function
	InvalidArgumentForPowerFunction           = "2201F" // invalid_argument_for_power_function
	InvalidArgumentForWidthBucketFunction     = "2201G" // invalid_argument_for_width_bucket_function
	InvalidCharacterValueForCast              = "22018" // invalid_character_value_for_cast
	InvalidDatetimeFormat                     = "22007" // invalid_datetime_format
	InvalidEscapeCharacter                    = "22019" // invalid_escape_character
	InvalidEscapeOctet                        = "2200D" // invalid_escape_octet
	InvalidEscapeSequence                     = "22025" // invalid_escape_sequence
	NonstandardUseOfEscapeCharacter           = "22P06" // nonstandard_use_of_escape_character
	InvalidIndicatorParameterValue            = "22010" // invalid_indicator_parameter_value
	InvalidParameterValue                     = "22023" // invalid_parameter_value
	InvalidPrecedingOrFollowingSize           = "22013" // invalid_preceding_or_following_size
	InvalidRegularExpression                  = "2201B" // invalid_regular_expression
	InvalidRowCountInLimitClause              = "2201W" // invalid_row_count_in_limit_clause
	InvalidRowCountInResultOffsetClause       = "2201X" // invalid_row_count_in_result_offset_clause
	InvalidTablesampleArgument                = "2202H" // invalid_tablesample_argument
	InvalidTablesampleRepeat                  = "2202G" // invalid_tablesample_repeat
	InvalidTimeZoneDisplacementValue          = "22009" // invalid_time_zone_displacement_value
	InvalidUseOfEscapeCharacter               = "2200C" // invalid_use_of_escape_character
	MostSpecificTypeMismatch                  = "2200G" // most_specific_type_mismatch
	NullValueNotAllowed                       = "22004" // null_value_not_allowed
	NullValueNoIndicatorParameter             = "22002" // null_value_no_indicator_parameter
	NumericValueOutOfRange                    = "22003" // numeric_value_out_of_range
	SequenceGeneratorLimitExceeded            = "2200H" // sequence_generator_limit_exceeded
	StringDataLengthMismatch                  = "22026" // string_data_length_mismatch
	StringDataRightTruncation                 = "22001" // string_data_right_truncation
	SubstringError                            = "22011" // substring_error
	TrimError                                 = "22027" // trim_error
	UnterminatedCString                       = "22024" // unterminated_c_string
	ZeroLengthCharacterString                 = "2200F" // zero_length_character_string
	FloatingPointException                    = "22P01" // floating_point_exception
	InvalidTextRepresentation                 = "22P02" // invalid_text_representation
	InvalidBinaryRepresentation               = "22P03" // invalid_binary_representation
	BadCopyFileFormat                         = "22P04" // bad_copy_file_format
	UntranslatableCharacter                   = "22P05" // untranslatable_character
	NotAnXmlDocument                          = "2200L" // not_an_xml_document
	InvalidXmlDocument                        = "2200M" // invalid_xml_document
	InvalidXmlContent                         = "2200N" // invalid_xml_content
	InvalidXmlComment                         = "2200S" // invalid_xml_comment
	InvalidXmlProcessingInstruction           = "2200T" // invalid_xml_processing_instruction
	DuplicateJsonObjectKeyValue               = "22030" // duplicate_json_object_key_value
	InvalidArgumentForSqlJsonDatetimeFunction = "22031" // invalid_argument_for_sql_json_datetime_function
	InvalidJsonText                           = "22032" // invalid_json_text
	InvalidSqlJsonSubscript                   = "22033" // invalid_sql_json_subscript
	MoreThanOneSqlJsonItem                    = "22034" // more_than_one_sql_json_item
	NoSqlJsonItem                             = "22035" // no_sql_json_item
	NonNumericSqlJsonItem                     = "22036" // non_numeric_sql_json_item
	NonUniqueKeysInAJsonObject                = "22037" // non_unique_keys_in_a_json_object
	SingletonSqlJsonItemRequired              = "22038" // singleton_sql_json_item_required
	SqlJsonArrayNotFound                      = "22039" // sql_json_array_not_found
	SqlJsonMemberNotFound                     = "2203A" // sql_json_member_not_found
	SqlJsonNumberNotFound                     = "2203B" // sql_json_number_not_found
	SqlJsonObjectNotFound                     = "2203C" // sql_json_object_not_found
	TooManyJsonArrayElements                  = "2203D" // too_many_json_array_elements
	TooManyJsonObjectMembers                  = "2203E" // too_many_json_object_members
	SqlJsonScalarRequired                     = "2203F" // sql_json_scalar_required
	SqlJsonItemCannotBeCastToTargetType       = "2203G" // sql_json_item_cannot_be_cast_to_target_type

	// Class 23 - Integrity Constraint Violation
	IntegrityConstraintViolation = "23000" // integrity_constraint_violation
	RestrictViolation            = "23001" // restrict_violation
	NotNullViolation             = "23502" // not_null_violation
	ForeignKeyViolation          = "23503" // foreign_key_violation
	UniqueViolation              = "23505" // unique_violation
	CheckViolation               = "23514" // check_violation
	ExclusionViolation           = "23P01" // exclusion_violation

	// Class 24 - Invalid Cursor State
	InvalidCursorState = "24000" // invalid_cursor_state

	// Class 25 - Invalid Transaction State
	InvalidTransactionState                         = "25000" // invalid_transaction_state
	ActiveSqlTransaction                            = "25001" // active_sql_transaction
	BranchTransactionAlreadyActive                  = "25002" // branch_transaction_already_active
	HeldCursorRequiresSameIsolationLevel            = "25008" // held_cursor_requires_same_isolation_level
	InappropriateAccessModeForBranchTransaction     = "25003" // inappropriate_access_mode_for_branch_transaction
	InappropriateIsolationLevelForBranchTransaction = "25004" // inappropriate_isolation_level_for_branch_transaction
	NoActiveSqlTransactionForBranchTransaction      = "25005" // no_active_sql_transaction_for_branch_transaction
	ReadOnlySqlTransaction                          = "25006" // read_only_sql_transaction
	SchemaAndDataStatementMixingNotSupported        = "25007" // schema_and_data_statement_mixing_not_supported
	NoActiveSqlTransaction                          = "25P01" // no_active_sql_transaction
	InFailedSqlTransaction                          = "25P02" // in_failed_sql_transaction
	IdleInTransactionSessionTimeout                 = "25P03" // idle_in_transaction_session_timeout

	// Class 26 - Invalid SQL Statement Name
	InvalidSqlStatementName = "26000" // invalid_sql_statement_name

	// Class 27 - Triggered Data Change Violation
	TriggeredDataChangeViolation = "27000" // triggered_data_change_violation

	// Class 28 - Invalid Authorization Specification
	InvalidAuthorizationSpecification = "28000" // invalid_authorization_specification
	InvalidPassword                   = "28P01" // invalid_password

	// Class 2B - Dependent Privilege Descriptors Still Exist
	DependentPrivilegeDescriptorsStillExist = "2B000" // dependent_privilege_descriptors_still_exist
	DependentObjectsStillExist              = "2BP01" // dependent_objects_still_exist

	// Class 2D - Invalid Transaction Termination
	InvalidTransactionTermination = "2D000" // invalid_transaction_termination

	// Class 2F - SQL Routine Exception
	SqlRoutineException               = "2F000" // sql_routine_exception
	FunctionExecutedNoReturnStatement = "2F005" // function_executed_no_return_statement
	ModifyingSqlDataNotPermitted      = "2F002" // modifying_sql_data_not_permitted
	ProhibitedSqlStatementAttempted   = "2F003" // prohibited_sql_statement_attempted
	ReadingSqlDataNotPermitted        = "2F004" // reading_sql_data_not_permitted

	// Class 34 - Invalid Cursor Name
	InvalidCursorName = "34000" // invalid_cursor_name

	// Class 38 - External Routine Exception
	ExternalRoutineException                       = "38000" // external_routine_exception
	ContainingSqlNotPermitted                      = "38001" // containing_sql_not_permitted
	ModifyingSqlDataNotPermittedExternalRoutine    = "38002" // modifying_sql_data_not_permitted
	ProhibitedSqlStatementAttemptedExternalRoutine = "38003" // prohibited_sql_statement_attempted
	ReadingSqlDataNotPermittedExternalRoutine      = "38004" // reading_sql_data_not_permitted

	// Class 39 - External Routine Invocation Exception
	ExternalRoutineInvocationException           = "39000" // external_routine_invocation_exception
	InvalidSqlstateReturned                      = "39001" // invalid_sqlstate_returned
	NullValueNotAllowedExternalRoutineInvocation = "39004" // null_value_not_allowed
	TriggerProtocolViolated                      = "39P01" // trigger_protocol_violated
	SrfProtocolViolated                          = "39P02" // srf_protocol_violated
	EventTriggerProtocolViolated                 = "39P03" // event_trigger_protocol_violated

	// Class 3B - Savepoint Exception
	SavepointException            = "3B000" // savepoint_exception
	InvalidSavepointSpecification = "3B001" // invalid_savepoint_specification

	// Class 3D - Invalid Catalog Name
	InvalidCatalogName = "3D000" // invalid_catalog_name

	// Class 3F - Invalid Schema Name
	InvalidSchemaName = "3F000" // invalid_schema_name

	// Class 40 - Transaction Rollback
	TransactionRollback                     = "40000" // transaction_rollback
	TransactionIntegrityConstraintViolation = "40002" // transaction_integrity_constraint_violation
	SerializationFailure                    = "40001" // serialization_failure
	StatementCompletionUnknown              = "40003" // statement_completion_unknown
	DeadlockDetected                        = "40P01" // deadlock_detected

	// Class 42 - Syntax Error or Access Rule Violation
	SyntaxErrorOrAccessRuleViolation   = "42000" // syntax_error_or_access_rule_violation
	SyntaxError                        = "42601" // syntax_error
	InsufficientPrivilege              = "42501" // insufficient_privilege
	CannotCoerce                       = "42846" // cannot_coerce
	GroupingError                      = "42803" // grouping_error
	WindowingError                     = "42P20" // windowing_error
	InvalidRecursion                   = "42P19" // invalid_recursion
	InvalidForeignKey                  = "42830" // invalid_foreign_key
	InvalidName                        = "42602" // invalid_name
	NameTooLong                        = "42622" // name_too_long
	ReservedName                       = "42939" // reserved_name
	DatatypeMismatch                   = "42804" // datatype_mismatch
	IndeterminateDatatype              = "42P18" // indeterminate_datatype
	CollationMismatch                  = "42P21" // collation_mismatch
	IndeterminateCollation             = "42P22" // indeterminate_collation
	WrongObjectType                    = "42809" // wrong_object_type
	GeneratedAlways                    = "428C9" // generated_always
	UndefinedColumn                    = "42703" // undefined_column
	UndefinedFunction                  = "42883" // undefined_function
	UndefinedTable                     = "42P01" // undefined_table
	UndefinedParameter                 = "42P02" // undefined_parameter
	UndefinedObject                    = "42704" // undefined_object
	DuplicateColumn                    = "42701" // duplicate_column
	DuplicateCursor                    = "42P03" // duplicate_cursor
	DuplicateDatabase                  = "42P04" // duplicate_database
	DuplicateFunction                  = "42723" // duplicate_function
	DuplicatePreparedStatement         = "42P05" // duplicate_prepared_statement
	DuplicateSchema                    = "42P06" // duplicate_schema
	DuplicateTable                     = "42P07" // duplicate_table
	DuplicateAlias                     = "42712" // duplicate_alias
	DuplicateObject                    = "42710" // duplicate_object
	AmbiguousColumn                    = "42702" // ambiguous_column
	AmbiguousFunction                  = "42725" // ambiguous_function
	AmbiguousParameter                 = "42P08" // ambiguous_parameter
	AmbiguousAlias                     = "42P09" // ambiguous_alias
	InvalidColumnReference             = "42P10" // invalid_column_reference
	InvalidColumnDefinition            = "42611" // invalid_column_definition
	InvalidCursorDefinition            = "42P11" // invalid_cursor_definition
	InvalidDatabaseDefinition          = "42P12" // invalid_database_definition
	InvalidFunctionDefinition          = "42P13" // invalid_function_definition
	InvalidPreparedStatementDefinition = "42P14" // invalid_prepared_statement_definition
	InvalidSchemaDefinition            = "42P15" // invalid_schema_definition
	InvalidTableDefinition             = "42P16" // invalid_table_definition
	InvalidObjectDefinition            = "42P17" // invalid_object_definition

	// Class 44 - WITH CHECK OPTION Violation
	WithCheckOptionViolation = "44000" // with_check_option_violation

	// Class 53 - Insufficient Resources
	InsufficientResources      = "53000" // insufficient_resources
	DiskFull                   = "53100" // disk_full
	OutOfMemory                = "53200" // out_of_memory
	TooManyConnections         = "53300" // too_many_connections
	ConfigurationLimitExceeded = "53400" // configuration_limit_exceeded

	// Class 54 - Program Limit Exceeded
	ProgramLimitExceeded = "54000" // program_limit_exceeded
	StatementTooComplex  = "54001" // statement_too_complex
	TooManyColumns       = "54011" // too_many_columns
	TooManyArguments     = "54023" // too_many_arguments

	// Class 55 - Object Not In Prerequisite State
	ObjectNotInPrerequisiteState = "55000" // object_not_in_prerequisite_state
	ObjectInUse                  = "55006" // object_in_use
	CantChangeRuntimeParam       = "55P02" // cant_change_runtime_param
	LockNotAvailable             = "55P03" // lock_not_available
	UnsafeNewEnumValueUsage      = "55P04" // unsafe_new_enum_value_usage

	// Class 57 - Operator Intervention
	OperatorIntervention = "57000" // operator_intervention
	QueryCanceled        = "57014" // query_canceled
	AdminShutdown        = "57P01" // admin_shutdown
	CrashShutdown        = "57P02" // crash_shutdown
	CannotConnectNow     = "57P03" // cannot_connect_now
	DatabaseDropped      = "57P04" // database_dropped
	IdleSessionTimeout   = "57P05" // idle_session_timeout

	// Class 58 - System Error (errors external to PostgreSQL itself)
	SystemError   = "58000" // system_error
	IoError       = "58030" // io_error
	UndefinedFile = "58P01" // undefined_file
	DuplicateFile = "58P02" // duplicate_file

	// Class 72 - Snapshot Failure
	SnapshotTooOld = "72000" // snapshot_too_old

	// Class F0 - Configuration File Error
	ConfigFileError = "F0000" // config_file_error
	LockFileExists  = "F0001" // lock_file_exists

	// Class HV - Foreign Data Wrapper Error (SQL/MED)
	FdwError                             = "HV000" // fdw_error
	FdwColumnNameNotFound                = "HV005" // fdw_column_name_not_found
	FdwDynamicParameterValueNeeded       = "HV002" // fdw_dynamic_parameter_value_needed
	FdwFunctionSequenceError             = "HV010" // fdw_function_sequence_error
	FdwInconsistentDescriptorInformation = "HV021" // fdw_inconsistent_descriptor_information
	FdwInvalidAttributeValue             = "HV024" // fdw_invalid_attribute_value
	FdwInvalidColumnName                 = "HV007" // fdw_invalid_column_name
	FdwInvalidColumnNumber               = "HV008" // fdw_invalid_column_number
	FdwInvalidDataType                   = "HV004" // fdw_invalid_data_type
	FdwInvalidDataTypeDescriptors        = "HV006" // fdw_invalid_data_type_descriptors
	FdwInvalidDescriptorFieldIdentifier  = "HV091" // fdw_invalid_descriptor_field_identifier
	FdwInvalidHandle                     = "HV00B" // fdw_invalid_handle
	FdwInvalidOptionIndex                = "HV00C" // fdw_invalid_option_index
	FdwInvalidOptionName                 = "HV00D" // fdw_invalid_option_name
	FdwInvalidStringLengthOrBufferLength = "HV090" // fdw_invalid_string_length_or_buffer_length
	FdwInvalidStringFormat               = "HV00A" // fdw_invalid_string_format
	FdwInvalidUseOfNullPointer           = "HV009" // fdw_invalid_use_of_null_pointer
	FdwTooManyHandles                    = "HV014" // fdw_too_many_handles
	FdwOutOfMemory                       = "HV001" // fdw_out_of_memory
	FdwNoSchemas                         = "HV00P" // fdw_no_schemas
	FdwOptionNameNotFound                = "HV00J" // fdw_option_name_not_found
	FdwReplyHandle                       = "HV00K" // fdw_reply_handle
	FdwSchemaNotFound                    = "HV00Q" // fdw_schema_not_found
	FdwTableNotFound                     = "HV00R" // fdw_table_not_found
	FdwUnableToCreateExecution           = "HV00L" // fdw_unable_to_create_execution
	FdwUnableToCreateReply               = "HV00M" // fdw_unable_to_create_reply
	FdwUnableToEstablishConnection       = "HV00N" // fdw_unable_to_establish_connection

	// Class P0 - PL/pgSQL Error
	PlpgsqlError   = "P0000" // plpgsql_error
	RaiseException = "P0001" // raise_exception
	NoDataFound    = "P0002" // no_data_found
	TooManyRows    = "P0003" // too_many_rows
	AssertFailure  = "P0004" // assert_failure

	// Class XX - Internal Error
	InternalError  = "XX000" // internal_error
	DataCorrupted  = "XX001" // data_corrupted
	IndexCorrupted = "XX002" // index_corrupted
)
