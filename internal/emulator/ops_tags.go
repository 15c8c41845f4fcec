package emulator

// Tags of lists, rule groups and associations.

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func (e *Emulator) applyTags(a *account, arn string, tags []tag) {
	if len(tags) == 0 {
		return
	}
	if a.Tags[arn] == nil {
		a.Tags[arn] = map[string]string{}
	}
	for _, t := range tags {
		a.Tags[arn][t.Key] = t.Value
	}
}

func (e *Emulator) knownARN(a *account, arn string) bool {
	for _, l := range a.Lists {
		if l.ARN == arn {
			return true
		}
	}
	for _, g := range a.Groups {
		if g.ARN == arn {
			return true
		}
	}
	for _, as := range a.Assocs {
		if as.ARN == arn {
			return true
		}
	}
	return false
}

func (e *Emulator) tagResource(a *account, in struct {
	ResourceArn string
	Tags        []tag
}) (any, *apiError) {
	if !e.knownARN(a, in.ResourceArn) {
		return nil, notFound("Resource", in.ResourceArn)
	}
	e.applyTags(a, in.ResourceArn, in.Tags)
	return map[string]any{}, nil
}

func (e *Emulator) untagResource(a *account, in struct {
	ResourceArn string
	TagKeys     []string
}) (any, *apiError) {
	if !e.knownARN(a, in.ResourceArn) {
		return nil, notFound("Resource", in.ResourceArn)
	}
	for _, k := range in.TagKeys {
		delete(a.Tags[in.ResourceArn], k)
	}
	return map[string]any{}, nil
}

func (e *Emulator) listTagsForResource(a *account, in struct {
	ResourceArn string
	MaxResults  int
	NextToken   string
}) (any, *apiError) {
	if !e.knownARN(a, in.ResourceArn) {
		return nil, notFound("Resource", in.ResourceArn)
	}
	var all []tag
	for k, v := range a.Tags[in.ResourceArn] {
		all = append(all, tag{Key: k, Value: v})
	}
	sortTags(all)
	items, next, err := page(all, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Tags": nonNil(items), "NextToken": omitEmpty(next)}, nil
}
