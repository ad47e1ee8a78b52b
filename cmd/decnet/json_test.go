package main

import (
	"encoding/json"

	"github.com/decnet-go/decnet/internal/event"
)

func jsonEvent(e event.Event) ([]byte, error) { return json.Marshal(e) }
