// Package realkafka holds the tests that run tickertape against a real Apache
// Kafka cluster (build tag realkafka). Start one with scripts/kafka-cluster
// and point the tests at it:
//
//	scripts/kafka-cluster start /tmp/kc 3
//	TICKERTAPE_KAFKA_DIR=/tmp/kc go test -tags realkafka -v ./interop/realkafka
//
// The directory gives the bootstrap addresses (DIR/bootstrap) and lets the
// failover test kill and restart a node through the script.
package realkafka
