package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tickertape/tickertape/commitlog"
)

// Kafka error codes used by the handlers, named after kerr's errors. Handlers
// use these names, never kerr.X.Code directly: one spelling everywhere.
var (
	errOffsetOutOfRange         = kerr.OffsetOutOfRange.Code
	errCorruptMessage           = kerr.CorruptMessage.Code
	errUnknownTopicOrPartition  = kerr.UnknownTopicOrPartition.Code
	errInvalidFetchSize         = kerr.InvalidFetchSize.Code
	errMessageTooLarge          = kerr.MessageTooLarge.Code
	errRequestTimedOut          = kerr.RequestTimedOut.Code
	errInvalidTopic             = kerr.InvalidTopicException.Code
	errRecordListTooLarge       = kerr.RecordListTooLarge.Code
	errInvalidRequiredAcks      = kerr.InvalidRequiredAcks.Code
	errUnsupportedVersion       = kerr.UnsupportedVersion.Code
	errTopicAlreadyExists       = kerr.TopicAlreadyExists.Code
	errInvalidPartitions        = kerr.InvalidPartitions.Code
	errInvalidReplicationFactor = kerr.InvalidReplicationFactor.Code
	errInvalidReplicaAssignment = kerr.InvalidReplicaAssignment.Code
	errInvalidConfig            = kerr.InvalidConfig.Code
	errInvalidRequest           = kerr.InvalidRequest.Code
	errOutOfOrderSequence       = kerr.OutOfOrderSequenceNumber.Code
	errInvalidProducerEpoch     = kerr.InvalidProducerEpoch.Code
	errUnsupportedForFormat     = kerr.UnsupportedForMessageFormat.Code
	errKafkaStorage             = kerr.KafkaStorageError.Code
	errFetchSessionIDNotFound   = kerr.FetchSessionIDNotFound.Code
	errUnknownTopicID           = kerr.UnknownTopicID.Code
	errInvalidRecord            = kerr.InvalidRecord.Code
	errTransactionalIDAuth      = kerr.TransactionalIDAuthorizationFailed.Code
	errPolicyViolation          = kerr.PolicyViolation.Code
	errUnknownLeaderEpoch       = kerr.UnknownLeaderEpoch.Code
	errFencedLeaderEpoch        = kerr.FencedLeaderEpoch.Code
	errInvalidTxnTimeout        = kerr.InvalidTransactionTimeout.Code
	errNotCoordinator           = kerr.NotCoordinator.Code
	errUnsupportedCompression   = kerr.UnsupportedCompressionType.Code
	errInvalidTimestamp         = kerr.InvalidTimestamp.Code
	errUnsupportedEndpointType  = kerr.UnsupportedEndpointType.Code
	errUnknownServerError       = kerr.UnknownServerError.Code
	errTopicAuthorization       = kerr.TopicAuthorizationFailed.Code
	errGroupAuthorization       = kerr.GroupAuthorizationFailed.Code
	errClusterAuthorization     = kerr.ClusterAuthorizationFailed.Code
	// Consumer groups.
	errCoordinatorNotAvailable   = kerr.CoordinatorNotAvailable.Code
	errFencedInstanceID          = kerr.FencedInstanceID.Code
	errGroupIDNotFound           = kerr.GroupIDNotFound.Code
	errGroupSubscribedToTopic    = kerr.GroupSubscribedToTopic.Code
	errIllegalGeneration         = kerr.IllegalGeneration.Code
	errInconsistentGroupProtocol = kerr.InconsistentGroupProtocol.Code
	errInvalidGroupID            = kerr.InvalidGroupID.Code
	errInvalidSessionTimeout     = kerr.InvalidSessionTimeout.Code
	errMemberIDRequired          = kerr.MemberIDRequired.Code
	errNonEmptyGroup             = kerr.NonEmptyGroup.Code
	errOffsetMetadataTooLarge    = kerr.OffsetMetadataTooLarge.Code
	errRebalanceInProgress       = kerr.RebalanceInProgress.Code
	errUnknownMemberID           = kerr.UnknownMemberID.Code
)

// logErrorCode maps a commitlog error to the Kafka error code a client expects.
func logErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, commitlog.ErrCorruptBatch):
		return errCorruptMessage
	case errors.Is(err, commitlog.ErrInvalidRecord):
		return errInvalidRecord
	case errors.Is(err, commitlog.ErrInvalidTimestamp):
		return errInvalidTimestamp
	case errors.Is(err, commitlog.ErrRecordTooLarge):
		return errMessageTooLarge
	case errors.Is(err, commitlog.ErrOutOfOrderSequence):
		return errOutOfOrderSequence
	case errors.Is(err, commitlog.ErrInvalidProducerEpoch):
		return errInvalidProducerEpoch
	case errors.Is(err, commitlog.ErrOffsetOutOfRange):
		return errOffsetOutOfRange
	case errors.Is(err, commitlog.ErrClosed):
		// The partition was deleted (or the broker is stopping) under the request.
		return errUnknownTopicOrPartition
	default:
		return errKafkaStorage
	}
}

func strp(s string) *string { return &s }

// checkLeaderEpoch applies KIP-320's fencing: a client that names a leader epoch
// (current >= 0) must name the partition's own; a newer one is unknown to us, an
// older one is fenced.
func checkLeaderEpoch(p *partition, current int32) int16 {
	switch ours := p.log.LeaderEpoch(); {
	case current < 0 || current == ours:
		return 0
	case current > ours:
		return errUnknownLeaderEpoch
	default:
		return errFencedLeaderEpoch
	}
}
