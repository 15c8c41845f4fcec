package fwsync

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
)

// QuotaSource says how many domains the account may hold in the region.
type QuotaSource interface {
	DomainsQuota(ctx context.Context) (int, error)
}

// ServiceQuotaAPI is the one Service Quotas call used.
type ServiceQuotaAPI interface {
	GetServiceQuota(context.Context, *servicequotas.GetServiceQuotaInput, ...func(*servicequotas.Options)) (*servicequotas.GetServiceQuotaOutput, error)
}

// ServiceQuotas reads route53resolver / L-740A4B31.
type ServiceQuotas struct{ API ServiceQuotaAPI }

// DomainsQuota asks Service Quotas.
func (q ServiceQuotas) DomainsQuota(ctx context.Context) (int, error) {
	out, err := q.API.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("route53resolver"), QuotaCode: aws.String("L-740A4B31")})
	if err != nil {
		return 0, fmt.Errorf("reading the domains quota from Service Quotas: %w", err)
	}
	if out.Quota == nil || out.Quota.Value == nil {
		return 0, fmt.Errorf("service Quotas returned no value for the domains quota")
	}
	return int(*out.Quota.Value), nil
}

// FixedQuota is a quota the user states.
type FixedQuota int

// DomainsQuota returns the stated quota.
func (q FixedQuota) DomainsQuota(context.Context) (int, error) { return int(q), nil }
