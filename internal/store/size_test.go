package store

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestItemSize(t *testing.T) {
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "STATE"},                                                                         // 2 + 5
		"n":  &types.AttributeValueMemberN{Value: "12345"},                                                                         // 1 + 4
		"ok": &types.AttributeValueMemberBOOL{Value: true},                                                                         // 2 + 1
		"m":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": &types.AttributeValueMemberS{Value: "xy"}}}, // 1 + 3 + (1+2+1)
		"l":  &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}}},            // 1 + 3 + (1+1)
	}
	if got, want := ItemSize(item), 7+5+3+8+6; got != want {
		t.Errorf("ItemSize = %d, want %d", got, want)
	}
}
