package infra

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"
)

// The AWS prices the cost estimate uses: data, in prices.json, with their sources and the day they were taken.
// It is the one place a price is written (the EKS control-plane prices of the version calendar come from it too).
// tools/refresh-prices rewrites it from the AWS Price List API.
//
//go:embed prices.json
var pricesJSON []byte

// PriceList is prices.json.
type PriceList struct {
	Taken           string            `json:"taken"`
	Currency        string            `json:"currency"`
	HoursPerMonth   float64           `json:"hoursPerMonth"`
	How             string            `json:"how"`
	Sources         map[string]string `json:"sources"`
	EKSControlPlane struct {
		StandardPerHour float64 `json:"standardPerHour"`
		ExtendedPerHour float64 `json:"extendedPerHour"`
	} `json:"eksControlPlane"`
	Regions map[string]RegionPrices `json:"regions"`
}

// RegionPrices are one region's prices: hourly, per GB-month, per GB, per key-month.
type RegionPrices struct {
	InstancePerHour       map[string]float64 `json:"instancePerHour"`
	GP3PerGBMonth         float64            `json:"gp3PerGBMonth"`
	NATGatewayPerHour     float64            `json:"natGatewayPerHour"`
	NATGatewayPerGB       float64            `json:"natGatewayPerGB"`
	PublicIPv4PerHour     float64            `json:"publicIPv4PerHour"`
	KMSKeyPerMonth        float64            `json:"kmsKeyPerMonth"`
	LogsIngestionPerGB    float64            `json:"logsIngestionPerGB"`
	LogsStoragePerGBMonth float64            `json:"logsStoragePerGBMonth"`
	ECRStoragePerGBMonth  float64            `json:"ecrStoragePerGBMonth"`
}

// Prices is the price list the program was built with.
var Prices = mustPrices(pricesJSON)

// PricesFile is where the price list lives, for messages.
const PricesFile = "infra/prices.json"

// PricesMaxAge is how long the price list is trusted before every estimate says it is old.
const PricesMaxAge = 180 * 24 * time.Hour

// ParsePrices reads a price list and checks that every region prices every item.
func ParsePrices(b []byte) (PriceList, error) {
	var p PriceList
	if err := json.Unmarshal(b, &p); err != nil {
		return p, err
	}
	if _, err := time.Parse(time.DateOnly, p.Taken); err != nil {
		return p, fmt.Errorf("taken: %w", err)
	}
	if p.HoursPerMonth <= 0 || p.EKSControlPlane.StandardPerHour <= 0 || p.EKSControlPlane.ExtendedPerHour <= 0 {
		return p, fmt.Errorf("hoursPerMonth and eksControlPlane must be positive")
	}
	for name, r := range p.Regions {
		for item, v := range map[string]float64{"gp3PerGBMonth": r.GP3PerGBMonth, "natGatewayPerHour": r.NATGatewayPerHour,
			"natGatewayPerGB": r.NATGatewayPerGB, "publicIPv4PerHour": r.PublicIPv4PerHour, "kmsKeyPerMonth": r.KMSKeyPerMonth,
			"logsIngestionPerGB": r.LogsIngestionPerGB, "logsStoragePerGBMonth": r.LogsStoragePerGBMonth,
			"ecrStoragePerGBMonth": r.ECRStoragePerGBMonth} {
			if v <= 0 {
				return p, fmt.Errorf("%s: %s must be positive", name, item)
			}
		}
		for typ, v := range r.InstancePerHour {
			if v <= 0 {
				return p, fmt.Errorf("%s: instancePerHour %s must be positive", name, typ)
			}
		}
	}
	return p, nil
}

func mustPrices(b []byte) PriceList {
	p, err := ParsePrices(b)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", PricesFile, err))
	}
	return p
}

// PricesStale says, on that day, that the price list is older than PricesMaxAge, or "".
func (p PriceList) PricesStale(today time.Time) string {
	taken := day(p.Taken)
	if today.Sub(taken) > PricesMaxAge {
		return fmt.Sprintf("the prices in %s were taken on %s, more than %d days ago: refresh them with tools/refresh-prices "+
			"(needs AWS credentials) or from %s", PricesFile, p.Taken, int(PricesMaxAge.Hours()/24), p.Sources["ec2"])
	}
	return ""
}
