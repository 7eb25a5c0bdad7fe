package market

import (
	"embed"
	"fmt"

	"github.com/hamba/avro/v2"
)

//go:embed schemas/*.avsc
var schemaFiles embed.FS

// Schema texts and parsed schemas of the market types. Register them under
// TopicRecordNameStrategy subjects: SubjectFor(topic, FullName...).
var (
	TradeSchemaText      = mustRead("trade.avsc")
	TickerSchemaText     = mustRead("ticker.avsc")
	BookUpdateSchemaText = mustRead("book_update.avsc")
	CandleSchemaText     = mustRead("candle.avsc")
	BookSchemaText       = mustRead("book.avsc")
	BBOSchemaText        = mustRead("bbo.avsc")

	TradeSchema      = mustParse(TradeSchemaText)
	TickerSchema     = mustParse(TickerSchemaText)
	BookUpdateSchema = mustParse(BookUpdateSchemaText)
	CandleSchema     = mustParse(CandleSchemaText)
	BookSchema       = mustParse(BookSchemaText)
	BBOSchema        = mustParse(BBOSchemaText)
)

// Full record names, as TopicRecordNameStrategy uses them.
const (
	TradeName      = "tickertape.market.Trade"
	TickerName     = "tickertape.market.Ticker"
	BookUpdateName = "tickertape.market.BookUpdate"
	CandleName     = "tickertape.market.Candle"
	BookName       = "tickertape.market.Book"
	BBOName        = "tickertape.market.BBO"
)

// SubjectFor is the TopicRecordNameStrategy subject: "<topic>-<full name>".
func SubjectFor(topic, fullName string) string { return topic + "-" + fullName }

func mustRead(name string) string {
	b, err := schemaFiles.ReadFile("schemas/" + name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func mustParse(text string) avro.Schema {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		panic(fmt.Sprintf("market: embedded schema does not parse: %v", err))
	}
	return s
}
